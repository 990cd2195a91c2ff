//! The transport's rules, each shown by a test over loopback TCP: delivery and reconnection, the shared-secret
//! handshake and frame MACs against a tampering proxy, mutual TLS, and the limits under hostile input.
//!
//! One test binary, so that the helpers are shared without dead code and the tests run in parallel.

mod certs;
mod clients;
mod delivery;
mod hostile;
mod options;
mod proxy;
mod security;
mod support;
mod tls;
mod wire;
