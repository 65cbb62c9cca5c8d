//! The integration's breaker (design.md rule 6), pure and in memory: a few
//! integration faults in a row take the integration down; while down the
//! worker takes no orders and runs a reachability check with a capped,
//! doubling backoff; the first good check brings it up. The log keeps the
//! down/up facts (`integration down` / `integration up`); this keeps the
//! schedule.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Orders remembered for [`Breaker::is_order_specific`] at most (then forgotten).
const TRACKED: usize = 1_000;

/// The breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Integration faults in a row that take the integration down.
    pub threshold: u32,
    /// The first wait between reachability checks; it doubles.
    pub check_initial: Duration,
    /// The longest wait between reachability checks.
    pub check_max: Duration,
    /// How long an order may wait for the ERP before it fails.
    pub max_age: Duration,
}

impl Default for BreakerPolicy {
    /// 3 faults; checks 5 s doubling to 60 s; 7 days.
    fn default() -> Self {
        BreakerPolicy {
            threshold: 3,
            check_initial: Duration::from_secs(5),
            check_max: Duration::from_secs(60),
            max_age: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What the breaker says of an attempt's integration fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultVerdict {
    /// Not the order's: give the attempt back; the integration is up still.
    Uncharged,
    /// Not the order's, and the integration is down now (since then, ms).
    Tripped {
        /// When the faults in a row began (ms since the epoch).
        since_ms: u64,
    },
    /// Right after a good check the same kind of fault again: the order at
    /// the head is charged one attempt, so it moves behind the others.
    ChargeHead,
}

/// The breaker of one workshop.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    streak: u32,
    first_fault_ms: Option<u64>,
    down: Option<Schedule>,
    just_recovered: bool,
    /// Attempts that went well (or failed for their order's own reasons).
    outcomes: u64,
    /// Orders whose last attempt ended in an integration fault, with the
    /// number of outcomes seen by then.
    faulted: HashMap<String, u64>,
}

/// When the next check runs while down.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    next_check: Instant,
    backoff: Duration,
}

impl Breaker {
    /// An up breaker.
    pub fn new(policy: BreakerPolicy) -> Breaker {
        Breaker {
            policy,
            streak: 0,
            first_fault_ms: None,
            down: None,
            just_recovered: false,
            outcomes: 0,
            faulted: HashMap::new(),
        }
    }

    /// Its settings.
    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Whether the integration is down (no orders are taken).
    pub fn is_down(&self) -> bool {
        self.down.is_some()
    }

    /// Down (as the log says at start, or for a refused login): the first
    /// check runs at `first_check`.
    pub fn go_down(&mut self, first_check: Instant) {
        self.faulted.clear();
        self.streak = 0;
        self.first_fault_ms = None;
        self.down = Some(Schedule {
            next_check: first_check,
            backoff: self.policy.check_initial,
        });
    }

    /// When the next check is due, while down.
    pub fn next_check(&self) -> Option<Instant> {
        self.down.map(|s| s.next_check)
    }

    /// An attempt that went well, or failed for the order's own reasons.
    pub fn on_order_outcome(&mut self) {
        self.outcomes += 1;
        self.streak = 0;
        self.first_fault_ms = None;
        self.just_recovered = false;
    }

    /// An integration fault in an attempt of `unique_id`: true when the ERP
    /// worked for other orders since this order's last such fault. Then it
    /// is the order's own (a case page that never loads, say) and is
    /// charged to it like an order-specific fault, so that it moves behind
    /// and, in the end, fails, instead of costing the workshop a step
    /// deadline every few seconds for days (design.md rule 6: one bad case
    /// cannot hold a workshop).
    pub fn is_order_specific(&mut self, unique_id: &str) -> bool {
        if self.faulted.len() >= TRACKED && !self.faulted.contains_key(unique_id) {
            self.faulted.clear();
        }
        let previous = self.faulted.insert(unique_id.to_string(), self.outcomes);
        previous.is_some_and(|at| self.outcomes > at)
    }

    /// A check found the ERP working with a login (no order was booked).
    pub fn note_erp_works(&mut self) {
        self.outcomes += 1;
    }

    /// An attempt that failed for the integration's reasons at `now_ms`.
    pub fn on_integration_fault(&mut self, now_ms: u64, now: Instant) -> FaultVerdict {
        if std::mem::take(&mut self.just_recovered) {
            return FaultVerdict::ChargeHead;
        }
        self.streak += 1;
        let since_ms = *self.first_fault_ms.get_or_insert(now_ms);
        if self.streak < self.policy.threshold.max(1) {
            return FaultVerdict::Uncharged;
        }
        self.down = Some(Schedule {
            next_check: now + self.policy.check_initial,
            backoff: self.policy.check_initial,
        });
        self.faulted.clear();
        self.streak = 0;
        self.first_fault_ms = None;
        FaultVerdict::Tripped { since_ms }
    }

    /// A reachability check's result at `now`: true when that brought the
    /// integration up.
    pub fn on_check(&mut self, ok: bool, now: Instant) -> bool {
        let Some(schedule) = self.down.as_mut() else {
            return false;
        };
        if ok {
            self.down = None;
            self.just_recovered = true;
            return true;
        }
        schedule.backoff = (schedule.backoff * 2).min(self.policy.check_max);
        schedule.next_check = now + schedule.backoff;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            threshold: 3,
            check_initial: Duration::from_secs(5),
            check_max: Duration::from_secs(20),
            max_age: Duration::from_secs(3600),
        }
    }

    #[test]
    fn given_faults_in_a_row_when_the_threshold_is_reached_then_down_since_the_first() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        assert_eq!(
            breaker.on_integration_fault(100, now),
            FaultVerdict::Uncharged
        );
        assert_eq!(
            breaker.on_integration_fault(200, now),
            FaultVerdict::Uncharged
        );
        let third = breaker.on_integration_fault(300, now);
        assert_eq!(third, FaultVerdict::Tripped { since_ms: 100 });
        assert!(breaker.is_down());
        assert_eq!(breaker.next_check(), Some(now + Duration::from_secs(5)));
    }

    #[test]
    fn given_an_order_outcome_between_faults_then_the_count_starts_again() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        breaker.on_integration_fault(1, now);
        breaker.on_integration_fault(2, now);
        breaker.on_order_outcome();
        assert_eq!(
            breaker.on_integration_fault(3, now),
            FaultVerdict::Uncharged
        );
        assert!(!breaker.is_down());
    }

    #[test]
    fn given_down_when_checks_fail_then_the_wait_doubles_up_to_the_cap() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        breaker.go_down(now);
        assert_eq!(breaker.next_check(), Some(now));
        let waits: Vec<Duration> = (0..4)
            .map(|_| {
                breaker.on_check(false, now);
                breaker.next_check().unwrap() - now
            })
            .collect();
        let secs = |s| Duration::from_secs(s);
        assert_eq!(waits, vec![secs(10), secs(20), secs(20), secs(20)]);
    }

    #[test]
    fn given_a_good_check_when_the_head_trips_again_then_it_is_charged_once() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        breaker.go_down(now);
        assert!(breaker.on_check(true, now));
        assert!(!breaker.is_down());
        assert_eq!(
            breaker.on_integration_fault(1, now),
            FaultVerdict::ChargeHead
        );
        assert_eq!(
            breaker.on_integration_fault(2, now),
            FaultVerdict::Uncharged
        );
    }

    #[test]
    fn given_an_order_faulting_again_while_others_book_then_the_fault_is_its_own() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        // Given order a's attempt met an integration fault
        assert!(!breaker.is_order_specific("a"));
        breaker.on_integration_fault(1, now);
        // When b is booked, then a's next integration fault is a's own
        breaker.on_order_outcome();
        assert!(breaker.is_order_specific("a"));
        // and b's first one is not.
        assert!(!breaker.is_order_specific("b"));
    }

    #[test]
    fn given_an_outage_when_orders_fault_in_a_row_then_none_is_charged_after_it() {
        let now = Instant::now();
        let mut breaker = Breaker::new(policy());
        // Given a faults, b is booked, then the ERP goes down
        breaker.is_order_specific("a");
        breaker.on_order_outcome();
        for (i, id) in ["c", "d", "e"].iter().enumerate() {
            assert!(!breaker.is_order_specific(id));
            breaker.on_integration_fault(i as u64, now);
        }
        assert!(breaker.is_down());
        // When it is back and works for f, then a's fault in the next outage
        // is not counted as its own: the outage forgot it.
        breaker.on_check(true, now);
        breaker.on_order_outcome();
        assert!(!breaker.is_order_specific("a"));
    }

    #[test]
    fn given_a_refused_login_when_another_login_works_then_the_next_refusal_is_the_orders() {
        let mut breaker = Breaker::new(policy());
        // Given order a's login was refused
        assert!(!breaker.is_order_specific("a"));
        // When a check logs in with another order's credentials
        breaker.note_erp_works();
        // Then a's next refusal is its own (its password is wrong)
        assert!(breaker.is_order_specific("a"));
    }

    #[test]
    fn given_up_when_a_check_reports_then_nothing_changes() {
        let mut breaker = Breaker::new(policy());
        assert!(!breaker.on_check(true, Instant::now()));
        assert!(!breaker.is_down());
    }
}
