//! The order, the leaf every other module may use: a new order as OilMat
//! sends it, its unique id, litres, and the kinds of outcome and failure.
//! It uses nothing of the crate.

mod failure;
mod litres;
mod new_order;

pub use failure::{Blame, Failure, FailureKind};
pub use litres::Litres;
pub use new_order::{reference, Booked, NewOrder, UniqueId};
