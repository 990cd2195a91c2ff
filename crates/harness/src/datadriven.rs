//! A small runner of data-driven test files, in the format of etcd's and raft-rs's `datadriven`: blocks of
//! `command arg arg...`, a line `----`, and the output the command must print, up to a blank line. Lines starting
//! with `#` are comments. A mismatch fails with a diff of every block that differs; `FLOTILLA_REWRITE=1` writes
//! the actual outputs into the file instead.

use std::fmt;
use std::path::Path;

/// The environment variable that makes `run_file` rewrite the expected blocks.
pub const REWRITE_VARIABLE: &str = "FLOTILLA_REWRITE";

/// One block of a file: a command with its arguments and the output it must print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    /// The 1-based line of the command, for messages.
    pub line: usize,
    pub command: String,
    pub args: Vec<String>,
    pub expected: String,
}

/// Why a file could not be read as test cases, or did not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataDrivenError {
    /// A command line without its `----` separator.
    MissingSeparator { line: usize },
    /// The outputs of these blocks differ from what the file expects: a diff, block by block.
    Mismatch { diff: String },
}

impl fmt::Display for DataDrivenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDrivenError::MissingSeparator { line } => {
                write!(f, "line {line}: a command needs a `----` line after it")
            }
            DataDrivenError::Mismatch { diff } => write!(f, "output differs (- expected, + actual):\n{diff}"),
        }
    }
}

/// Reads the test cases of a file's text.
pub fn parse(text: &str) -> Result<Vec<TestCase>, DataDrivenError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cases = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at].trim();
        if line.is_empty() || line.starts_with('#') {
            at += 1;
            continue;
        }
        let mut words = line.split_whitespace().map(str::to_string);
        let command = words.next().unwrap_or_default();
        let args = words.collect();
        if lines.get(at + 1).map(|l| l.trim()) != Some("----") {
            return Err(DataDrivenError::MissingSeparator { line: at + 1 });
        }
        let output_start = at + 2;
        let mut output_end = output_start;
        while output_end < lines.len() && !lines[output_end].trim().is_empty() {
            output_end += 1;
        }
        let expected = lines[output_start..output_end].join("\n");
        cases.push(TestCase { line: at + 1, command, args, expected });
        at = output_end;
    }
    Ok(cases)
}

/// Runs every case of `text` through `handler` (which returns the command's output). `Ok` holds the text with
/// every expected block replaced by the actual output; `Err` the diff when any block differs.
pub fn check(text: &str, mut handler: impl FnMut(&TestCase) -> String) -> Result<String, (String, DataDrivenError)> {
    let cases = parse(text).map_err(|error| (text.to_string(), error))?;
    let mut rewritten = String::new();
    let mut diff = String::new();
    for case in &cases {
        let actual = handler(case).trim_end().to_string();
        if actual != case.expected {
            diff.push_str(&format!("line {}: {}\n", case.line, command_line(case)));
            diff.push_str(&line_diff(&case.expected, &actual));
        }
        rewritten.push_str(&format!("{}\n----\n", command_line(case)));
        if !actual.is_empty() {
            rewritten.push_str(&actual);
            rewritten.push('\n');
        }
        rewritten.push('\n');
    }
    if diff.is_empty() {
        Ok(rewritten)
    } else {
        Err((rewritten, DataDrivenError::Mismatch { diff }))
    }
}

/// Runs a file (see `check`). On a mismatch it panics with the diff, or, with `FLOTILLA_REWRITE=1`, writes the
/// actual outputs into the file. (Rewriting drops comments: keep them at the file's top, above a blank line.)
pub fn run_file(path: &Path, handler: impl FnMut(&TestCase) -> String) {
    run_file_rewriting(path, rewriting(), handler);
}

/// `run_file`, rewriting on a mismatch only when `rewrite` says so (whatever the environment says).
pub fn run_file_rewriting(path: &Path, rewrite: bool, handler: impl FnMut(&TestCase) -> String) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    match check(&text, handler) {
        Ok(_) => {}
        Err((rewritten, DataDrivenError::Mismatch { .. })) if rewrite => {
            std::fs::write(path, header_comments(&text) + &rewritten)
                .unwrap_or_else(|error| panic!("cannot rewrite {}: {error}", path.display()));
        }
        Err((_, error)) => {
            panic!("{}: {error}\n(set {REWRITE_VARIABLE}=1 to accept the actual output)", path.display())
        }
    }
}

/// The command and its arguments, as the file writes them.
fn command_line(case: &TestCase) -> String {
    std::iter::once(&case.command).chain(&case.args).cloned().collect::<Vec<_>>().join(" ")
}

fn rewriting() -> bool {
    std::env::var(REWRITE_VARIABLE).is_ok_and(|value| value != "0")
}

/// The comment lines a file opens with (and the blank line after them), kept by a rewrite.
fn header_comments(text: &str) -> String {
    let header: Vec<&str> = text.lines().take_while(|line| line.starts_with('#')).collect();
    if header.is_empty() {
        String::new()
    } else {
        header.join("\n") + "\n\n"
    }
}

/// Expected and actual output, line by line: `-` for an expected line that is not there, `+` for an actual one.
fn line_diff(expected: &str, actual: &str) -> String {
    let (expected, actual): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for at in 0..expected.len().max(actual.len()) {
        match (expected.get(at), actual.get(at)) {
            (Some(e), Some(a)) if e == a => out.push_str(&format!("  {e}\n")),
            (e, a) => {
                if let Some(e) = e {
                    out.push_str(&format!("- {e}\n"));
                }
                if let Some(a) = a {
                    out.push_str(&format!("+ {a}\n"));
                }
            }
        }
    }
    out
}
