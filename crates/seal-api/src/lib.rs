//! The SealedSecret resource and its rules.
mod template;
