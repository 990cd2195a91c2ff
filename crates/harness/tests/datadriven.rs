//! The data-driven scenario files (`testdata/*.txt`, run by the harness's `datadriven` runner over
//! `ScenarioCluster`) and the runner's own rules: a mismatch fails with a diff, and a rewrite takes the actual
//! output.

use flotilla_harness::datadriven::{check, parse, run_file, run_file_rewriting, DataDrivenError, TestCase};
use flotilla_harness::scenario_commands::ScenarioCluster;
use std::path::Path;

#[test]
fn every_scenario_file_prints_what_it_expects() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir).expect("testdata").map(|e| e.expect("entry").path()).collect();
    files.retain(|path| path.extension().is_some_and(|ext| ext == "txt"));
    assert!(!files.is_empty(), "no scenario files in {}", dir.display());
    for path in files {
        let mut cluster = ScenarioCluster::default();
        run_file(&path, |case| cluster.run(case));
    }
}

/// Echoes its arguments, for the runner's own tests.
fn echo(case: &TestCase) -> String {
    case.args.join(" ")
}

#[test]
fn blocks_are_a_command_a_separator_and_the_output_up_to_a_blank_line() {
    let cases = parse("# a comment\n\necho a b\n----\na b\nsecond line\n\nquiet\n----\n").expect("parses");
    assert_eq!(
        cases,
        vec![
            TestCase {
                line: 3,
                command: "echo".into(),
                args: vec!["a".into(), "b".into()],
                expected: "a b\nsecond line".into()
            },
            TestCase { line: 8, command: "quiet".into(), args: vec![], expected: String::new() },
        ]
    );
}

#[test]
fn a_command_without_a_separator_is_refused() {
    assert_eq!(parse("echo a\nnot a separator\n"), Err(DataDrivenError::MissingSeparator { line: 1 }));
}

#[test]
fn a_mismatch_fails_with_a_diff() {
    let (_, error) = check("echo a b\n----\na c\n", echo).expect_err("a b is not a c");
    let DataDrivenError::Mismatch { diff } = error else { panic!("not a mismatch: {error:?}") };
    assert_eq!(diff, "line 1: echo a b\n- a c\n+ a b\n");
}

#[test]
fn a_matching_file_passes_and_a_rewrite_takes_the_actual_output() {
    let matching = "echo a\n----\na\n\necho\n----\n\n";
    assert_eq!(check(matching, echo), Ok(matching.to_string()));
    let (rewritten, _) = check("echo new\n----\nold\n", echo).expect_err("old is not new");
    assert_eq!(rewritten, "echo new\n----\nnew\n\n");
}

#[test]
#[should_panic(expected = "output differs")]
fn a_file_that_does_not_match_fails_its_test() {
    let path = std::env::temp_dir().join(format!("flotilla-datadriven-{}.txt", std::process::id()));
    std::fs::write(&path, "echo a\n----\nb\n").expect("write");
    // Never rewritten, even under FLOTILLA_REWRITE=1.
    let result = std::panic::catch_unwind(|| run_file_rewriting(&path, false, echo));
    let _ = std::fs::remove_file(&path);
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
