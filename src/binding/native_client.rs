//! `NativeClient`: one connection from a client to a node that serves clients (`flotilla serve`), on the node's
//! transport port and authenticated as its peers are. JS sends requests as text frames and hears each reply,
//! then null once the connection has ended; `lib/client` speaks the request protocol over it.

use super::error::{self, ErrorCode};
use super::transport_options::{security, NativeTls, MAX_FRAME_BYTES};
use crate::node::{MAX_ADDRESS_BYTES, MAX_NAME_BYTES};
use crate::runtime::{client_key, Client, ClientOptions, Security, MIN_SECRET_BYTES};
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
    /// The cluster's shared secret, if it has one: the client proves the client key made from it (never the
    /// secret itself, which opens the peers' route).
    pub secret: Option<String>,
    /// Instead of the secret: the client key itself (64 hex digits, `clientKeyOf(secret)`), which a client can be
    /// given without the power to act as a member.
    pub client_key: Option<String>,
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
    let security = match (options.client_key, security(options.secret, options.tls, false)?) {
        (None, Security::Secret(secret)) => Security::Secret(client_key_bytes(&secret)?.to_vec()),
        (None, other) => other,
        (Some(key), Security::None { .. }) => Security::Secret(parse_client_key(&key)?),
        (Some(_), _) => return Err(wrong("give a secret, a client key or tls, only one".to_string())),
    };
    Ok(ClientOptions {
        cluster: options.cluster,
        name: options.name,
        address: options.address,
        security,
        max_frame_bytes: MAX_FRAME_BYTES,
    })
}

/// The client key of a cluster's secret, as 64 hex digits: what `flotilla client-key` prints, to give a client
/// access without the power to act as a member.
#[napi(catch_unwind)]
pub fn client_key_of(secret: String) -> Result<String, ErrorCode> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(error::invalid_argument(format!("the secret must be at least {MIN_SECRET_BYTES} bytes")));
    }
    Ok(client_key_bytes(secret.as_bytes())?.iter().map(|byte| format!("{byte:02x}")).collect())
}

fn client_key_bytes(secret: &[u8]) -> Result<[u8; 32], ErrorCode> {
    client_key(secret).map_err(|why| error::invalid_argument(format!("client: {why}")))
}

fn parse_client_key(hex: &str) -> Result<Vec<u8>, ErrorCode> {
    let digits = hex.trim();
    let bytes: Option<Vec<u8>> = (digits.len() == 64)
        .then(|| {
            (0..32).map(|i| digits.get(2 * i..2 * i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
        })
        .flatten();
    bytes.ok_or_else(|| error::invalid_argument("client: the client key must be 64 hex digits (flotilla client-key)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_key_reads_back_as_printed_and_a_short_secret_has_none() {
        let printed = client_key_of("a secret of at least 16 bytes".to_string()).expect("a key");
        assert_eq!(printed.len(), 64);
        assert_eq!(
            parse_client_key(&printed).expect("hex"),
            client_key_bytes(b"a secret of at least 16 bytes").unwrap()
        );
        assert!(client_key_of("short".to_string()).is_err());
        assert!(parse_client_key("not hex").is_err());
        assert!(parse_client_key(&"é".repeat(32)).is_err(), "64 bytes that are not 64 hex digits");
    }
}
