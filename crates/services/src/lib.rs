//! What TaylorDash does, below HTTP and above storage: plain functions and services over narrow
//! store traits, a [`Clock`] and (for identity) a password hasher, returning domain errors.
//!
//! Each module is one area of the program; the HTTP layer (`api`) and the command line
//! (`taylordash`) call the same functions, so a user created by `taylordash user add` goes
//! through exactly the checks, hashing and audit entry of `POST /api/v1/auth/users`.
//!
//! - [`alerts`]: alert rules, alerts (pending → firing → resolved, acknowledged, silenced),
//!   channels and the durable notification queue; the evaluator and sender tasks.
//! - [`checks`]: service checks on components — definitions, probes (HTTP(S), TCP, ping, DNS),
//!   pushes and MQTT heartbeats, history and uptime, and the scheduler task.
//! - [`identity`]: sign-in (throttle, verify, rehash, sessions), first-run setup, user
//!   provisioning and updates, personal API keys, password hashing, tokens and the audit hook.
//!
//! Nothing here knows about HTTP: no status codes, headers or cookies. Dependencies point one
//! way: `api → services → storage → domain`.

pub mod alerts;
pub mod checks;
mod clock;
pub mod identity;

pub use clock::Clock;
