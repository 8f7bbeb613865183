//! Integration tests of the BIMT transformer, in one binary (burn links slowly).

mod common;
mod constraints;
mod invariance;
mod layout;
mod reference;
