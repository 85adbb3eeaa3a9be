//! Go text/template interpreter.
