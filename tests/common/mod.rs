//! What the integration tests share: an application error type as a user writes one.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

/// An application's error: its own failures, plus the policies' rejections.
#[derive(Debug, Clone, PartialEq)]
pub enum AppError {
    /// The dependency failed.
    Down(&'static str),
    /// A policy rejected or cut short the call.
    Policy(resilience::Error),
}

impl From<resilience::Error> for AppError {
    fn from(err: resilience::Error) -> Self {
        AppError::Policy(err)
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppError::Down(why) => write!(f, "down: {why}"),
            AppError::Policy(err) => err.fmt(f),
        }
    }
}

impl AppError {
    /// The code of the policy rejection, if it is one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            AppError::Policy(err) => Some(err.code()),
            AppError::Down(_) => None,
        }
    }
}

/// Counts how often a body ran.
#[derive(Debug, Default)]
pub struct Runs(AtomicU32);

impl Runs {
    pub fn new() -> Self {
        Runs(AtomicU32::new(0))
    }

    /// Records one run and returns its number, from 1.
    pub fn tick(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn get(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}
