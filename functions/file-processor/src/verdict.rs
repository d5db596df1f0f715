//! What becomes of one SQS message, decided from its work alone (no I/O, so every rule is a unit
//! test): the processor gathers the failures of the message's files, this module turns them and
//! the message's receive count into a [`Verdict`], and the processor then carries it out.
//!
//! - no failure: done (the event source mapping deletes the message);
//! - any transient failure: retry (files already written are skipped then), unless this is the
//!   message's last receive: the queue's redrive policy would move it to the DLQ on the next
//!   receive, with no reason attached, so the handler dead-letters it itself with the reason;
//! - only permanent failures: dead-letter at once, their reasons joined.

use pipeline_core::failure::FailureClass;

use crate::failures::Failure;

/// Which receive of the message this is, and how many the queue allows before its redrive
/// moves the message to the DLQ (`maxReceiveCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    pub receive_count: u32,
    pub max_receive_count: u32,
}

impl Attempt {
    /// SQS moves a message to the DLQ once a receive would exceed `maxReceiveCount`
    /// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html>),
    /// so receive number `maxReceiveCount` is the last one the function gets.
    pub fn is_last(&self) -> bool {
        self.receive_count >= self.max_receive_count
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Done,
    /// Transient: delay the next attempt and report the message in `batchItemFailures`.
    Retry(Failure),
    /// Send to the DLQ with `error_class`/`error_reason`, then report success.
    DeadLetter(Failure),
}

/// The verdict of a message whose files failed with `failures` (empty = all fine).
pub fn decide(failures: Vec<Failure>, attempt: Attempt) -> Verdict {
    match combine(failures) {
        None => Verdict::Done,
        Some(failure) if !failure.is_transient() => Verdict::DeadLetter(failure),
        Some(failure) if attempt.is_last() => Verdict::DeadLetter(give_up(failure, attempt)),
        Some(failure) => Verdict::Retry(failure),
    }
}

/// The reason of a transient failure that ran out of receives. It stays classed transient
/// (`error_class=transient`): redriving it later may well succeed.
fn give_up(failure: Failure, attempt: Attempt) -> Failure {
    Failure {
        class: FailureClass::Transient,
        reason: format!(
            "{} (gave up on receive {} of the queue's maxReceiveCount {})",
            failure.reason, attempt.receive_count, attempt.max_receive_count
        ),
    }
}

/// One failure for a message from its files' failures: any transient one means the message is
/// retried; otherwise permanent ones are joined.
pub fn combine(failures: Vec<Failure>) -> Option<Failure> {
    if let Some(transient) = failures.iter().find(|f| f.is_transient()) {
        return Some(transient.clone());
    }
    if failures.is_empty() {
        return None;
    }
    Some(Failure::permanent(
        failures
            .iter()
            .map(|f| f.reason.as_str())
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Attempt = Attempt {
        receive_count: 1,
        max_receive_count: 5,
    };
    const LAST: Attempt = Attempt {
        receive_count: 5,
        max_receive_count: 5,
    };

    #[test]
    fn transient_wins_over_permanent() {
        let verdict = combine(vec![Failure::permanent("a"), Failure::transient("b")]).unwrap();
        assert!(verdict.is_transient());
        let joined = combine(vec![Failure::permanent("a"), Failure::permanent("b")]).unwrap();
        assert_eq!(joined.reason, "a; b");
        assert!(combine(vec![]).is_none());
    }

    #[test]
    fn no_failure_is_done_on_any_receive() {
        assert_eq!(decide(vec![], FIRST), Verdict::Done);
        assert_eq!(decide(vec![], LAST), Verdict::Done);
    }

    #[test]
    fn permanent_failures_are_dead_lettered_at_once() {
        let verdict = decide(vec![Failure::permanent("bad header")], FIRST);
        assert_eq!(
            verdict,
            Verdict::DeadLetter(Failure::permanent("bad header"))
        );
    }

    #[test]
    fn transient_failures_are_retried_until_the_last_receive() {
        let slow = Failure::transient("too slow");
        assert_eq!(
            decide(vec![slow.clone()], FIRST),
            Verdict::Retry(slow.clone())
        );
        let before_last = Attempt {
            receive_count: 4,
            ..LAST
        };
        assert_eq!(
            decide(vec![slow.clone()], before_last),
            Verdict::Retry(slow)
        );
    }

    #[test]
    fn the_last_receive_dead_letters_a_transient_failure_with_its_reason() {
        let verdict = decide(vec![Failure::transient("too slow")], LAST);
        let Verdict::DeadLetter(failure) = verdict else {
            panic!("{verdict:?}");
        };
        assert!(failure.is_transient());
        assert_eq!(
            failure.reason,
            "too slow (gave up on receive 5 of the queue's maxReceiveCount 5)"
        );
        // A receive count above the maximum (a redriven message) is also a last attempt.
        let redriven = Attempt {
            receive_count: 9,
            max_receive_count: 5,
        };
        assert!(matches!(
            decide(vec![Failure::transient("x")], redriven),
            Verdict::DeadLetter(_)
        ));
    }
}
