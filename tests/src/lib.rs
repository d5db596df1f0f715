//! e2e-tests (being built).
