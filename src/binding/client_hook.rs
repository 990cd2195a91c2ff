//! The runtime's client hook for JS (`startThreaded`'s `onClient`): each client event goes to JS through a
//! threadsafe function, and its share of the byte budget is given back on the JS thread once JS has the frame.
//! A frame nested deeper than any request can be is not handed over as it is: JS gets an empty text, which it
//! refuses and counts like any frame that is not a request, without parsing it.

use super::error::{self, CodedError};
use crate::node::wire::{nests_within, MAX_DATA_DEPTH};
use crate::runtime::{ClientBudget, ClientEvent};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;

/// `onClient(client, name, text | null)`, as JS gives it.
pub type OnClient<'env> = Function<'env, FnArgs<(f64, String, Option<String>)>, ()>;

/// A request's nesting: its envelope `{id, op, data}` and the deepest data an append may carry.
const MAX_REQUEST_DEPTH: usize = MAX_DATA_DEPTH + 1;

pub fn client_hook(
    on_client: OnClient<'_>,
) -> std::result::Result<Box<dyn Fn(ClientEvent, ClientBudget) + Send>, CodedError> {
    let calls = on_client
        .build_threadsafe_function::<(ClientEvent, ClientBudget)>()
        .callee_handled::<false>()
        .build_callback(|context| {
            let (event, share) = context.value;
            // JS holds the frame now (as its own string): its bytes leave the budget.
            drop(share);
            // Client ids count up from 0: far below 2^53, so a JS number holds them exactly.
            Ok(FnArgs::from(match event {
                ClientEvent::Frame { client, name, frame } => (client as f64, name, Some(request_text(&frame))),
                ClientEvent::Closed { client } => (client as f64, String::new(), None),
            }))
        })
        .map_err(error::internal)?;
    Ok(Box::new(move |event, share| {
        let _ = calls.call((event, share), ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

/// The frame as text, or "" when it is not UTF-8 or nested deeper than a request can be.
fn request_text(frame: &[u8]) -> String {
    match std::str::from_utf8(frame) {
        Ok(text) if nests_within(text, MAX_REQUEST_DEPTH) => text.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_nested_deeper_than_a_request_is_handed_over_empty() {
        let deep = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert_eq!(request_text(deep(MAX_REQUEST_DEPTH).as_bytes()), deep(MAX_REQUEST_DEPTH));
        assert_eq!(request_text(deep(MAX_REQUEST_DEPTH + 1).as_bytes()), "");
        assert_eq!(request_text(format!("\"{}\"", "[".repeat(500)).as_bytes()).len(), 502, "brackets in a string");
        assert_eq!(request_text(&[0xff, 0xfe]), "", "not UTF-8");
    }
}
