//! Queue: picks the order the worker should book next from the task queue
//! view: the oldest order that is waiting, or whose retry time has come.

use actix::prelude::*;

use crate::event_log::{events::now_ms, Journal, OrderView, Status};

/// The queue actor of one workshop.
pub struct Queue {
    journal: Journal,
}

impl Queue {
    /// A queue over `journal`'s task queue view.
    pub fn new(journal: Journal) -> Self {
        Queue { journal }
    }
}

impl Actor for Queue {
    type Context = Context<Self>;
}

/// What the worker should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Book this order now.
    Ready(Box<OrderView>),
    /// Nothing is due before this time (ms since epoch).
    WaitUntil(u64),
    /// The task queue is empty.
    Empty,
}

/// Ask for the next order to book.
#[derive(Message)]
#[rtype(result = "Next")]
pub struct NextOrder;

impl Handler<NextOrder> for Queue {
    type Result = MessageResult<NextOrder>;

    fn handle(&mut self, _: NextOrder, _: &mut Self::Context) -> Self::Result {
        let views = self.journal.views();
        // Orders whose login the ERP refuses wait (single-workshop mode,
        // design.md rule 6); the others go on.
        let refused = &views.health.refused_logins;
        let usable = |o: &&OrderView| {
            o.order
                .as_ref()
                .and_then(|d| d.username.as_deref())
                .is_none_or(|u| !refused.contains_key(u))
        };
        let queue = views.queue(crate::event_log::QueueKind::Task);
        MessageResult(next_due(queue.filter(usable), now_ms()))
    }
}

/// The oldest order due at `now`, else the earliest time one will be.
pub fn next_due<'a>(orders: impl Iterator<Item = &'a OrderView>, now: u64) -> Next {
    let mut earliest: Option<u64> = None;
    for order in orders {
        let due = match (order.status, order.retry_at_ms) {
            (Status::Received, _) => now,
            (Status::Processing, Some(at)) => at,
            // In progress with no retry scheduled: an attempt was cut short (crash, kill).
            (Status::Processing, None) => now,
            _ => continue,
        };
        if due <= now {
            return Next::Ready(Box::new(order.clone()));
        }
        earliest = Some(earliest.map_or(due, |e: u64| e.min(due)));
    }
    earliest.map_or(Next::Empty, Next::WaitUntil)
}
