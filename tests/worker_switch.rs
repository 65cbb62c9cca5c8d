//! Given/when/then tests of the worker's on/off switch through its actor,
//! with a real log on a temp dir: start and stop calls close together end
//! in the state of the last call, in `/alive`'s answer and in the log (a
//! restart of the workshop comes up in that state).

use std::path::Path;

use oilmat_erp::config::Tuning;
use oilmat_erp::erp::{ErpType, WebDriverEndpoint};
use oilmat_erp::secrets::Cipher;
use oilmat_erp::workshop::status::IsWorkerRunning;
use oilmat_erp::workshop::worker::{StartWorker, StopWorker};
use oilmat_erp::workshop::{self, Workshop, WorkshopSettings};

fn start(dir: &Path) -> Workshop {
    let url = url::Url::parse("http://127.0.0.1:9/").unwrap();
    let settings = WorkshopSettings::new(
        "switch".into(),
        ErpType::Au2office,
        &url,
        WebDriverEndpoint::Spawn,
        dir.to_path_buf(),
        &Tuning::default(),
    );
    workshop::start(settings, Cipher::from_key(&[7; 32])).expect("workshop starts")
}

async fn running(ws: &Workshop) -> bool {
    ws.actors.status.send(IsWorkerRunning).await.unwrap()
}

/// Sends `calls` (true: start) from `tasks` concurrent tasks, each its share
/// in order, then one last call `last` once all of them were taken; answers
/// what the last call answered.
async fn interleave(ws: &Workshop, tasks: usize, calls: &[bool], last: bool) -> bool {
    let mut joins = Vec::new();
    for t in 0..tasks {
        let worker = ws.actors.worker.clone();
        let mine: Vec<bool> = calls.iter().copied().skip(t).step_by(tasks).collect();
        joins.push(actix_rt::spawn(async move {
            for run in mine {
                let answer = if run {
                    worker.send(StartWorker { by_operator: true }).await
                } else {
                    worker.send(StopWorker { by_operator: true }).await
                };
                assert_eq!(answer.unwrap(), run);
            }
        }));
    }
    for join in joins {
        join.await.unwrap();
    }
    let worker = &ws.actors.worker;
    if last {
        worker
            .send(StartWorker { by_operator: true })
            .await
            .unwrap()
    } else {
        worker.send(StopWorker { by_operator: true }).await.unwrap()
    }
}

/// A fixed pseudo-random sequence of calls (no clock, no seed to print).
fn calls(n: usize, mut state: u64) -> Vec<bool> {
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state & 1 == 1
        })
        .collect()
}

#[test]
fn the_last_of_many_close_calls_wins_in_memory_and_after_a_restart() {
    actix_rt::System::new().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        for (round, last) in [false, true, false].into_iter().enumerate() {
            // Given a workshop as the previous round left it
            let ws = start(dir.path());
            // When many start and stop calls come close together from
            // several callers, and one more call comes last
            let answer = interleave(&ws, 6, &calls(120, 0x9e37 + round as u64), last).await;
            // Then the last call is answered as itself, and the worker runs
            // exactly when the last call says so
            assert_eq!(answer, last);
            assert_eq!(running(&ws).await, last, "round {round}");
            ws.shutdown().await;
            // and the log says the same: a restart comes up in that state.
            let again = start(dir.path());
            assert_eq!(running(&again).await, last, "round {round}, restarted");
            again.shutdown().await;
        }
    });
}

#[test]
fn a_stop_then_a_start_close_together_end_running_in_the_log_too() {
    actix_rt::System::new().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let ws = start(dir.path());
        // Given a stop and a start sent back to back, neither awaited first
        let worker = ws.actors.worker.clone();
        let stop = worker.send(StopWorker { by_operator: true });
        let start_call = worker.send(StartWorker { by_operator: true });
        // When both are answered
        let (stopped, started) = futures_join(stop, start_call).await;
        assert_eq!((stopped, started), (false, true));
        // Then the worker runs, and runs after a restart.
        assert!(running(&ws).await);
        ws.shutdown().await;
        let again = start(dir.path());
        assert!(running(&again).await);
        again.shutdown().await;
    });
}

async fn futures_join<A, B>(a: A, b: B) -> (bool, bool)
where
    A: std::future::Future<Output = Result<bool, actix::MailboxError>>,
    B: std::future::Future<Output = Result<bool, actix::MailboxError>>,
{
    let (a, b) = tokio::join!(a, b);
    (a.unwrap(), b.unwrap())
}
