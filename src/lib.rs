//! oilmat-erp: takes OilMat's oil dispenses over HTTP, stores each durably in
//! the workshop's append-only event log, and books it as an order line on the
//! workshop's ERP through a real browser, exactly once.
//!
//! A tour of the modules, from the inside out (dependencies point inward;
//! `scripts/check-deps` checks the rules of shared/design.md):
//! - [`order`]: the leaf: a new order, its unique id, litres, and the kinds
//!   of outcome and failure. Uses nothing of the crate.
//! - [`event_log`]: events, the fjall-backed store with group commit, and the
//!   views (order status, task and error queues, counters) folded from them.
//!   Plain data and folds: no browsers, HTTP or actors.
//! - [`erp`]: the ERP drivers (WebDriver + the UI contract), one folder per
//!   ERP type; a driver takes an order and returns an outcome.
//! - `sandbox` (cargo feature `sandbox`, on by default): the sandbox ERP, an
//!   HTTP server serving each ERP type's UI, for tests, the demo and trials;
//!   an independent reading of the UI contract (it shares nothing with `erp`).
//! - [`telemetry`]: logs, metrics and traces; called from everywhere, calls
//!   nothing back (workshops hand it plain samples).
//! - [`secrets`]: credentials encrypted at rest.
//! - [`workshop`]: the actor tree of one workshop (intake, queue, status,
//!   browser worker, supervisor) that joins the log and the drivers.
//! - [`http`]: the per-workshop HTTP API (the original Flask contract); talks
//!   to workshop actors only.
//! - [`config`]: the host's TOML file and each integration's typed retry,
//!   timeout, browser and evidence settings.
//! - [`host`] and [`management`]: the integration host and its JSON API.
//! - [`support`]: the support commands (`events`, `replay`, `requeue`).
//! - [`check`]: the synthetic check (`oilmat-erp check`).
//! - `demo` (feature `sandbox`): `oilmat-erp demo`.
//! - [`startup`]: builds a workshop, the host or a sandbox from typed
//!   settings and runs it until a shutdown future resolves.
//! - [`cli`]: the command line and its translation into settings; `main.rs`
//!   is a thin shell over it and [`startup`].
//! - [`platform`]: every call that differs between Unix and Windows (process
//!   groups or job objects, signals or console events and the Windows
//!   service, file modes or ACLs); a leaf like [`order`].

pub mod check;
pub mod cli;
pub mod config;
pub mod console;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod erp;
pub mod event_log;
pub mod host;
pub mod http;
pub mod management;
pub mod order;
pub mod platform;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod secrets;
pub mod startup;
pub mod support;
pub mod telemetry;
pub mod workshop;
