//! The worker's on/off switch: the operator's start and stop calls, decided
//! in the one order in which the worker's actor takes them. Each call gets
//! the next number; the worker's loop follows the latest setting, `/alive`
//! shows it, and the log records the settings in the same order, so the
//! last call wins everywhere, also after a restart.

/// One call of the switch: its number and whether it wants the worker running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The call's number (0: the setting the worker started with).
    pub seq: u64,
    /// Run (true) or stop.
    pub run: bool,
}

/// The latest setting, numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    latest: Setting,
}

impl Switch {
    /// A switch that starts at `run` (the operator's last choice in the log).
    pub fn new(run: bool) -> Switch {
        Switch {
            latest: Setting { seq: 0, run },
        }
    }

    /// Takes a call: it becomes the latest setting, numbered after every
    /// call taken before it.
    pub fn flip(&mut self, run: bool) -> Setting {
        self.latest = Setting {
            seq: self.latest.seq + 1,
            run,
        };
        self.latest
    }

    /// The setting the worker follows now.
    pub fn latest(&self) -> Setting {
        self.latest
    }
}

/// Where the worker's answer to a call stands: the number of the last
/// setting the log holds (`recorded`) and the last one the loop has taken up
/// at a point where no attempt runs (`taken_up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// The last setting written to the log (settings are written in order).
    pub recorded: u64,
    /// The last setting the loop acted on between attempts.
    pub taken_up: u64,
}

/// Whether `call` may be answered: its record is in the log (so a restart
/// keeps it, unless a later call says otherwise), and for a stop, the loop
/// has reached it or a later setting, so that no attempt starts after the
/// answer (an attempt already running has ended).
pub fn may_answer(call: Setting, progress: Progress) -> bool {
    progress.recorded >= call.seq && (call.run || progress.taken_up >= call.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_call_is_the_latest_setting_whatever_came_before() {
        // Given a running worker
        let mut switch = Switch::new(true);
        // When stop and start calls come close together
        let stop = switch.flip(false);
        let start = switch.flip(true);
        // Then each is numbered after the one before, and the last one wins.
        assert!(start.seq > stop.seq);
        assert_eq!(switch.latest(), start);
        let stop_again = switch.flip(false);
        assert_eq!(switch.latest(), Setting { seq: 3, run: false });
        assert_eq!(stop_again.seq, 3);
    }

    #[test]
    fn a_stop_is_answered_only_once_recorded_and_taken_up_by_the_loop() {
        let mut switch = Switch::new(true);
        let stop = switch.flip(false);
        // Given the stop recorded while an attempt still runs, then no answer yet.
        let recorded = Progress {
            recorded: 1,
            taken_up: 0,
        };
        assert!(!may_answer(stop, recorded));
        // Given the loop taken it up but the record not written, then no answer.
        let taken = Progress {
            recorded: 0,
            taken_up: 1,
        };
        assert!(!may_answer(stop, taken));
        // When both, then the stop is answered.
        let both = Progress {
            recorded: 1,
            taken_up: 1,
        };
        assert!(may_answer(stop, both));
    }

    #[test]
    fn a_stop_overtaken_by_a_start_is_answered_once_the_loop_reached_the_start() {
        let mut switch = Switch::new(true);
        let stop = switch.flip(false);
        let start = switch.flip(true);
        // Given both recorded, the loop still in the attempt that ran at the stop
        let busy = Progress {
            recorded: 2,
            taken_up: 0,
        };
        // Then the start is answered, the stop waits for the attempt.
        assert!(may_answer(start, busy));
        assert!(!may_answer(stop, busy));
        // When the loop takes up the start, then the stop is answered too.
        let later = Progress {
            recorded: 2,
            taken_up: 2,
        };
        assert!(may_answer(stop, later));
    }

    #[test]
    fn a_start_is_answered_once_recorded() {
        let mut switch = Switch::new(false);
        let start = switch.flip(true);
        assert!(!may_answer(start, Progress::default()));
        let recorded = Progress {
            recorded: 1,
            taken_up: 0,
        };
        assert!(may_answer(start, recorded));
    }
}
