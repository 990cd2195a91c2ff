//! What a driver has for the JS side after a call: messages to send, entries appended and committed, and whether
//! the visible state changed. It is handed over as one JSON text per call, so that one `JSON.parse` in JS
//! replaces many boundary crossings.

use super::json::JsonWriter;
use super::wire::payload_text;
use crate::raft::Entry;

#[derive(Default)]
pub struct Output {
    /// (recipient name, or None to broadcast; message JSON)
    sends: Vec<(Option<String>, String)>,
    committed: Option<JsonWriter>,
    appended: Option<JsonWriter>,
    state_changed: bool,
}

impl Output {
    pub fn send(&mut self, to: Option<&str>, json: String) {
        self.sends.push((to.map(str::to_string), json));
    }

    pub fn committed(&mut self, gaggle_index: u64, entry: &Entry) {
        write_entry(self.committed.get_or_insert_with(begin_list), gaggle_index, entry);
    }

    pub fn appended(&mut self, gaggle_index: u64, entry: &Entry) {
        write_entry(self.appended.get_or_insert_with(begin_list), gaggle_index, entry);
    }

    pub fn state_changed(&mut self) {
        self.state_changed = true;
    }

    pub fn is_empty(&self) -> bool {
        self.sends.is_empty() && self.committed.is_none() && self.appended.is_none() && !self.state_changed
    }

    /// `{"send":[[to|null, message],...], "appended":[[index, term, id, data],...], "committed":[...], "state":1}`,
    /// each key present only when it has something; `None` when there is nothing at all.
    pub fn take_json(&mut self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut w = JsonWriter::new();
        w.begin_object();
        if !self.sends.is_empty() {
            w.key("send").begin_array();
            for (to, json) in self.sends.drain(..) {
                w.begin_array().opt_string(to.as_deref()).raw(&json).end_array();
            }
            w.end_array();
        }
        let mut out = w.finish();
        for (key, list) in [("appended", self.appended.take()), ("committed", self.committed.take())] {
            if let Some(mut list) = list {
                list.end_array();
                if out.len() > 1 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(key);
                out.push_str("\":");
                out.push_str(&list.finish());
            }
        }
        if std::mem::take(&mut self.state_changed) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str("\"state\":1");
        }
        out.push('}');
        Some(out)
    }
}

fn begin_list() -> JsonWriter {
    let mut w = JsonWriter::new();
    w.begin_array();
    w
}

fn write_entry(w: &mut JsonWriter, gaggle_index: u64, entry: &Entry) {
    w.begin_array().uint(gaggle_index).uint(entry.term).opt_string(entry.id.as_deref());
    w.raw(payload_text(&entry.data)).end_array();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{EntryKind, Payload};

    #[test]
    fn output_is_one_valid_json_object() {
        let mut output = Output::default();
        assert_eq!(output.take_json(), None);
        output.send(Some("b"), "{\"type\":\"HELLO\"}".into());
        output.send(None, "{\"type\":\"HELLO\"}".into());
        let entry = Entry { term: 2, index: 3, kind: EntryKind::Normal, id: Some("a_1".into()), data: Payload::from(&b"{\"k\":1}"[..]) };
        output.committed(0, &entry);
        output.committed(1, &entry);
        output.appended(1, &entry);
        output.state_changed();
        let json = output.take_json().expect("output");
        let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["send"][1][0], serde_json::Value::Null);
        assert_eq!(value["committed"][1][0], 1);
        assert_eq!(value["committed"][0][3]["k"], 1);
        assert_eq!(value["appended"][0][2], "a_1");
        assert_eq!(value["state"], 1);
        assert!(output.is_empty());
    }
}
