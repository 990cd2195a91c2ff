//! `NativeClient`: one connection from a client to a node that serves clients (`flotilla serve`), on the node's
//! transport port and authenticated as its peers are. JS sends requests as text frames and hears each reply,
//! then null once the connection has ended; `lib/client` speaks the request protocol over it.

use super::error::{self, ErrorCode};
use super::transport_options::{security, NativeTls, MAX_FRAME_BYTES};
use crate::node::{MAX_ADDRESS_BYTES, MAX_NAME_BYTES};
use crate::runtime::{Client, ClientOptions};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;

/// Replies waiting for JS at once, per connection: the connection pushes back (TCP) beyond.
const REPLY_QUEUE: usize = 1024;

#[napi(object)]
pub struct NativeClientOptions {
    /// The cluster's name, as its nodes are configured.
    pub cluster: String,
    /// This client's name (with TLS, its certificate must name it).
    pub name: String,
    /// The node to dial, "host:port".
    pub address: String,
    /// The cluster's shared secret, if it has one.
    pub secret: Option<String>,
    /// The cluster's mutual TLS settings, with this client's certificate and key.
    pub tls: Option<NativeTls>,
}

#[napi]
pub struct NativeClient {
    client: Client,
}

#[napi]
impl NativeClient {
    /// Connects to the node; `onFrame(text)` is called with each frame the node sends, then `onFrame(null)` once
    /// when the connection ends. Rejects with the reason when the node cannot be reached or refuses the client.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeClient>")]
    pub fn connect<'env>(
        env: &'env Env,
        options: NativeClientOptions,
        on_frame: Function<Option<String>, ()>,
    ) -> Result<PromiseRaw<'env, NativeClient>, ErrorCode> {
        let options = client_options(options)?;
        let on_frame =
            on_frame.build_threadsafe_function().callee_handled::<false>().build().map_err(error::internal)?;
        let connecting = async move {
            let (replies, mut frames) = tokio::sync::mpsc::channel(REPLY_QUEUE);
            // Rejected as a plain Error: `lib/client` gives it its code (the node is unavailable).
            let client =
                Client::connect(options, replies).await.map_err(|why| napi::Error::from_reason(why.to_string()))?;
            napi::bindgen_prelude::spawn(async move {
                while let Some(frame) = frames.recv().await {
                    let text = String::from_utf8_lossy(&frame).into_owned();
                    let _ = on_frame.call(Some(text), ThreadsafeFunctionCallMode::Blocking);
                }
                let _ = on_frame.call(None, ThreadsafeFunctionCallMode::Blocking);
            });
            Ok(NativeClient { client })
        };
        env.spawn_future(connecting).map_err(error::internal)
    }

    /// The name of the node this client is connected to.
    #[napi(getter, catch_unwind)]
    pub fn node(&self) -> String {
        self.client.node().to_string()
    }

    /// Queues a frame for the node; false when the connection has ended or too many frames wait.
    #[napi(catch_unwind)]
    pub fn send(&self, text: String) -> bool {
        text.len() <= MAX_FRAME_BYTES && self.client.send(text.into_bytes().into())
    }

    /// Closes the connection (`onFrame(null)` follows).
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.client.close();
    }
}

fn client_options(options: NativeClientOptions) -> Result<ClientOptions, ErrorCode> {
    let wrong = |why: String| error::invalid_argument(format!("client: {why}"));
    for (what, text) in [("cluster", &options.cluster), ("name", &options.name)] {
        if text.is_empty() || text.len() > MAX_NAME_BYTES {
            return Err(wrong(format!("the {what} must be 1 to {MAX_NAME_BYTES} bytes")));
        }
    }
    if options.address.is_empty() || options.address.len() > MAX_ADDRESS_BYTES {
        return Err(wrong(format!("the address must be \"host:port\", at most {MAX_ADDRESS_BYTES} bytes")));
    }
    Ok(ClientOptions {
        cluster: options.cluster,
        name: options.name,
        address: options.address,
        security: security(options.secret, options.tls, false)?,
        max_frame_bytes: MAX_FRAME_BYTES,
    })
}
