//! The Train screen: the job the lab runs, follows or queues ([`live`]: its state folded from
//! events; [`follow`]: a run trained elsewhere, read from the store; [`jobs`]: the queue and
//! the study in progress), its keys ([`update`]) and its drawing ([`draw`]).

pub mod draw;
pub mod follow;
pub mod jobs;
pub mod live;
pub mod scale;
mod update;
