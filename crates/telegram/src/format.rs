//! Formatting (written next).
