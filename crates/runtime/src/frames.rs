//! The runtime's frames inside the transport's: one kind byte, then the engine's message or the application's
//! text (gaggle's `dispatchOnLeader` rides the same connections). A frame of an unknown kind is dropped and
//! counted.

use bytes::{BufMut, Bytes, BytesMut};

const ENGINE: u8 = 0;
const APPLICATION: u8 = 1;

pub enum Frame<'a> {
    Engine(&'a [u8]),
    Application(Bytes),
}

pub fn engine(message: &[u8]) -> Bytes {
    framed(ENGINE, message)
}

pub fn application(text: &[u8]) -> Bytes {
    framed(APPLICATION, text)
}

fn framed(kind: u8, body: &[u8]) -> Bytes {
    let mut frame = BytesMut::with_capacity(1 + body.len());
    frame.put_u8(kind);
    frame.put_slice(body);
    frame.freeze()
}

/// The frame's kind and body, or None for an empty frame or an unknown kind.
pub fn read(frame: &Bytes) -> Option<Frame<'_>> {
    match *frame.first()? {
        ENGINE => Some(Frame::Engine(&frame[1..])),
        APPLICATION => Some(Frame::Application(frame.slice(1..))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_as_written_and_unknown_kinds_are_refused() {
        let message = engine(b"{\"type\":\"HELLO\"}");
        assert!(matches!(read(&message), Some(Frame::Engine(body)) if body == b"{\"type\":\"HELLO\"}"));
        let text = application(b"[1]");
        assert!(matches!(read(&text), Some(Frame::Application(body)) if &body[..] == b"[1]"));
        assert!(read(&Bytes::new()).is_none(), "an empty frame");
        assert!(read(&Bytes::from_static(&[7, 1, 2])).is_none(), "an unknown kind");
    }
}
