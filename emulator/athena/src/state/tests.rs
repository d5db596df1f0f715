//! The history's bounds: the cap evicts the oldest final executions (never a running one) and
//! their tokens, and only the most recently used result tables stay in memory.

use std::sync::Arc;
use std::time::SystemTime;

use super::*;
use crate::results::ResultTable;
use crate::statements::StatementType;

pub(crate) fn execution(id: &str, token: Option<&str>) -> Execution {
    Execution::running(
        id.to_owned(),
        token.map(str::to_owned),
        StartParameters {
            query: format!("SELECT '{id}'"),
            database: Some("db".into()),
            catalog: "AwsDataCatalog".into(),
            workgroup: "primary".into(),
            output_location: None,
        },
        StatementType::Dml,
        ("s3://results/".into(), format!("s3://results/{id}.csv")),
        SystemTime::now(),
    )
}

fn succeed(executions: &mut Executions, id: &str) {
    let output = crate::engine::QueryOutput {
        result: ResultTable::utility(&["v"], vec![vec![id.to_owned()]]),
        bytes_scanned: 7,
        manifest: None,
    };
    assert!(executions.finish(id, Ok(output), 1).is_some());
}

#[test]
fn the_cap_evicts_the_oldest_final_executions_and_their_tokens() {
    let mut executions = Executions::with_cap(3);
    executions.insert(execution("running", None));
    for i in 0..5 {
        let id = format!("q{i}");
        let token = format!("token-{i}");
        executions.insert(execution(&id, Some(&token)));
        succeed(&mut executions, &id);
    }
    assert_eq!(executions.len(), 3);
    assert_eq!(executions.ids_in("primary"), ["q4", "q3", "running"]);
    let parameters = executions.get("q4").unwrap().parameters.clone();
    assert!(matches!(
        executions.lookup_token("token-4", &parameters),
        TokenLookup::Existing(id) if id == "q4"
    ));
    assert!(matches!(
        executions.lookup_token("token-0", &parameters),
        TokenLookup::New
    ));
    assert_eq!(executions.cancel("q0"), CancelOutcome::NotFound);
    assert_eq!(executions.cancel("q4"), CancelOutcome::AlreadyFinal);
    assert!(matches!(
        executions.cancel("running"),
        CancelOutcome::Cancelled(c) if c.state == QueryState::Cancelled
    ));
    // The engine's outcome after a cancel changes nothing.
    assert_eq!(
        executions.finish("running", Err(QueryFailure::system("x")), 1),
        None
    );
    assert_eq!(
        executions.get("running").unwrap().state,
        QueryState::Cancelled
    );
}

#[test]
fn only_the_most_recently_used_results_stay_in_memory() {
    let mut executions = Executions::with_cap(1_000);
    let n = RESULTS_IN_MEMORY + 10;
    for i in 0..n {
        let id = format!("q{i}");
        executions.insert(execution(&id, None));
        succeed(&mut executions, &id);
    }
    let in_memory = executions.in_order().filter(|e| e.result.is_some()).count();
    assert_eq!(in_memory, RESULTS_IN_MEMORY);
    let oldest = executions.get("q0").unwrap();
    assert!(oldest.result.is_none() && oldest.shape.is_some());
    executions.cache_result("q0", Arc::new(ResultTable::default()));
    assert!(executions.get("q0").unwrap().result.is_some());
    assert!(executions.get("q10").unwrap().result.is_none());
}
