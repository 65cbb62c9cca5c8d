//! Intake: turns `/create` requests and operator commands into commands for
//! the journal, and answers only once the journal has made them durable.
//!
//! Orders go through an [`IntakeDesk`], which the API calls in its own task:
//! the journal's writer thread is the one place they queue (and share an
//! fsync), with no mailbox hop to the workshop's arbiter and back on the way
//! (measured: a quarter of intake's CPU time per order, see BENCHMARKS.md).
//! The [`Intake`] actor takes the same orders through its mailbox, and the
//! operator commands.

use actix::prelude::*;

use crate::event_log::{self, Command, Journal, OrderData, QueueKind, Refusal, Status};
use crate::order::Litres;
use crate::secrets::{Cipher, Secret};

/// Takes orders into a workshop's log; cheap to clone, callable from any task.
#[derive(Clone)]
pub struct IntakeDesk {
    journal: Journal,
    cipher: Cipher,
    workshop: String,
    has_own_credentials: bool,
}

impl IntakeDesk {
    /// A desk writing to `journal`, sealing order credentials with `cipher`.
    pub fn new(
        journal: Journal,
        cipher: Cipher,
        workshop: String,
        has_own_credentials: bool,
    ) -> Self {
        IntakeDesk {
            journal,
            cipher,
            workshop,
            has_own_credentials,
        }
    }

    /// Takes an order: durable (or already known) before it answers.
    pub async fn enqueue(
        &self,
        request: CreateRequest,
        trace_id: String,
        span_id: Option<String>,
    ) -> event_log::Result<CreateAnswer> {
        let command = match self.command_for(request, trace_id, span_id) {
            Ok(command) => command,
            Err(reason) => return Ok(CreateAnswer::Bad(reason)),
        };
        match self.journal.submit(command).await? {
            Ok(_) => Ok(CreateAnswer::Accepted {
                status: Status::Received,
                new: true,
            }),
            Err(Refusal::Duplicate(existing)) => Ok(CreateAnswer::Accepted {
                status: existing.status,
                new: false,
            }),
            Err(other) => Ok(CreateAnswer::Bad(format!("refused: {other}"))),
        }
    }
}

/// A well-formed `/create` request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    /// The workshop named in the order.
    pub workshop: String,
    /// The ERP case (work order).
    pub case_id: String,
    /// The ERP item number.
    pub product_nr: String,
    /// Litres.
    pub product_amount: Litres,
    /// OilMat's id.
    pub unique_id: String,
    /// The ERP user to log in as, if given.
    pub username: Option<String>,
    /// Its password, if given.
    pub password: Option<Secret>,
}

/// A refused `/create`: the reason, and the id when the body had a usable one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCreate {
    /// The `unique_id` of the body, if it had a well-formed one.
    pub unique_id: Option<String>,
    /// What is wrong, for the client.
    pub reason: String,
}

/// The intake actor of one workshop.
pub struct Intake {
    desk: IntakeDesk,
}

impl Intake {
    /// An intake taking orders through `desk`.
    pub fn with_desk(desk: IntakeDesk) -> Self {
        Intake { desk }
    }
}

impl Actor for Intake {
    type Context = Context<Self>;
}

/// How `/create` should answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateAnswer {
    /// Durable (new) or already known: 200 with its current status.
    Accepted {
        /// Current status.
        status: Status,
        /// True when this request created the order.
        new: bool,
    },
    /// Refused: 400 with the reason.
    Bad(String),
}

/// Take an order (from `/create`).
#[derive(Message)]
#[rtype(result = "event_log::Result<CreateAnswer>")]
pub struct Enqueue {
    /// The parsed request.
    pub request: CreateRequest,
    /// Trace id of the request.
    pub trace_id: String,
    /// Id of the request's server span, when traces are exported.
    pub span_id: Option<String>,
}

/// Record a refused `/create` (the id's status becomes `bad request` where allowed).
#[derive(Message)]
#[rtype(result = "event_log::Result<()>")]
pub struct RecordBadRequest {
    /// What was wrong.
    pub bad: BadCreate,
    /// Trace id of the request.
    pub trace_id: String,
}

/// Empty a queue; answers how many orders were cleared.
#[derive(Message)]
#[rtype(result = "event_log::Result<usize>")]
pub struct ClearQueue(pub QueueKind);

/// Put failed orders back on the task queue; answers how many.
#[derive(Message)]
#[rtype(result = "event_log::Result<usize>")]
pub struct Requeue(pub Option<String>);

/// Record in the log what an operator did through the support console.
#[derive(Message)]
#[rtype(result = "event_log::Result<()>")]
pub struct RecordOperatorAction {
    /// The order concerned, if any.
    pub unique_id: Option<String>,
    /// What was done (`requeue`, `start worker`, ...).
    pub action: String,
    /// Who did it (`admin` or `support`).
    pub by: String,
}

impl Handler<Enqueue> for Intake {
    type Result = ResponseFuture<event_log::Result<CreateAnswer>>;

    fn handle(&mut self, msg: Enqueue, _: &mut Self::Context) -> Self::Result {
        let desk = self.desk.clone();
        Box::pin(async move { desk.enqueue(msg.request, msg.trace_id, msg.span_id).await })
    }
}

impl IntakeDesk {
    /// The journal command for a parsed order, sealing its credentials.
    fn command_for(
        &self,
        request: CreateRequest,
        trace_id: String,
        span_id: Option<String>,
    ) -> Result<Command, String> {
        if request.workshop != self.workshop {
            tracing::debug!(workshop = %self.workshop, named = %request.workshop, "order names another workshop; booking it here");
        }
        let credentials = match (&request.username, &request.password) {
            // Under `serve` the integration's own login is used: an order's
            // own credentials are not kept at all (design.md rule 5).
            _ if self.has_own_credentials => None,
            (Some(user), Some(password)) => {
                let plain = SealedLogin {
                    username: user.clone(),
                    password: password.expose().to_string(),
                };
                let plain = serde_json::to_vec(&plain).unwrap_or_default();
                let context = self.credentials_context(&request.unique_id);
                Some(self.cipher.seal(&plain, &context))
            }
            (None, _) => return Err("missing field username".to_string()),
            (_, None) => return Err("missing field password".to_string()),
        };
        Ok(Command::Create {
            order: OrderData {
                workshop: request.workshop,
                case_id: request.case_id,
                product_nr: request.product_nr,
                product_amount: request.product_amount.as_str().to_string(),
                username: request.username,
            },
            unique_id: request.unique_id,
            credentials,
            trace_id: Some(trace_id),
            span_id,
        })
    }

    fn credentials_context(&self, unique_id: &str) -> String {
        credentials_context(&self.workshop, unique_id)
    }
}

/// The plain text of an order's sealed credentials: written by intake,
/// opened by the worker.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct SealedLogin {
    pub(super) username: String,
    pub(super) password: String,
}

/// What an order's sealed credentials are bound to.
pub fn credentials_context(workshop: &str, unique_id: &str) -> String {
    format!("oilmat-erp/{workshop}/order/{unique_id}")
}

impl Handler<RecordBadRequest> for Intake {
    type Result = ResponseFuture<event_log::Result<()>>;

    fn handle(&mut self, msg: RecordBadRequest, _: &mut Self::Context) -> Self::Result {
        let journal = self.desk.journal.clone();
        Box::pin(async move {
            let Some(unique_id) = msg.bad.unique_id else {
                return Ok(());
            };
            let command = Command::RejectCreate {
                unique_id,
                reason: msg.bad.reason,
                trace_id: Some(msg.trace_id),
            };
            journal.execute(command).await.map(|_| ())
        })
    }
}

impl Handler<ClearQueue> for Intake {
    type Result = ResponseFuture<event_log::Result<usize>>;

    fn handle(&mut self, msg: ClearQueue, _: &mut Self::Context) -> Self::Result {
        let journal = self.desk.journal.clone();
        Box::pin(async move {
            let executed = journal.execute(Command::Clear { queue: msg.0 }).await?;
            Ok(executed.map(|events| events.len()).unwrap_or(0))
        })
    }
}

impl Handler<Requeue> for Intake {
    type Result = ResponseFuture<event_log::Result<usize>>;

    fn handle(&mut self, msg: Requeue, _: &mut Self::Context) -> Self::Result {
        let journal = self.desk.journal.clone();
        Box::pin(async move {
            let executed = journal
                .execute(Command::Requeue { unique_id: msg.0 })
                .await?;
            Ok(executed.map(|events| events.len()).unwrap_or(0))
        })
    }
}

impl Handler<RecordOperatorAction> for Intake {
    type Result = ResponseFuture<event_log::Result<()>>;

    fn handle(&mut self, msg: RecordOperatorAction, _: &mut Self::Context) -> Self::Result {
        let journal = self.desk.journal.clone();
        Box::pin(async move {
            let command = Command::RecordOperatorAction {
                unique_id: msg.unique_id,
                action: msg.action,
                by: msg.by,
            };
            journal.execute(command).await.map(|_| ())
        })
    }
}
