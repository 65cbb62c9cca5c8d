//! oilmat-erp: takes OilMat's oil dispenses over HTTP, stores each durably in
//! the workshop's append-only event log, and books it as an order line on the
//! workshop's ERP through a real browser, exactly once.
//!
//! A tour of the modules, from the inside out:
//! - [`event_log`]: events, the fjall-backed store with group commit, and the
//!   views (order status, task and error queues) folded from the events.
//! - [`erp`]: the ERP drivers (WebDriver + the UI contract).
//! - `sandbox` (cargo feature `sandbox`, on by default): the sandbox ERP, an
//!   HTTP server serving each ERP type's UI, for tests, the demo and trials.
//! - [`workshop`]: the actor tree of one workshop that joins the two.
//! - [`http`]: the per-workshop HTTP API (the original Flask contract).
//! - [`secrets`]: credentials encrypted at rest.
//! - [`config`]: the host's TOML file and each integration's typed retry,
//!   timeout, browser and evidence settings.
//! - [`host`] and [`management`]: the integration host and its API.
//! - [`startup`]: builds a workshop, the host or a sandbox from typed
//!   settings and runs it until a shutdown future resolves.
//! - [`check`]: the synthetic check (`oilmat-erp check`).
//! - [`cli`]: the command line and its translation into settings.
//! - [`platform`]: every call that differs between Unix and Windows (process
//!   groups or job objects, signals or console events and the Windows
//!   service, file modes or ACLs); a leaf like [`order`].

pub mod check;
pub mod cli;
pub mod config;
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
