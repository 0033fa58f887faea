//! Engine: one file per verb, each a short composition of the core and the database layer.
