//! The SDK flavours: what each SDK's stock export path does with an ended span, one module per
//! SDK, so that the ring path writes what the stock path writes (issue 14).

pub(crate) mod dumps;
pub(crate) mod js;
pub(crate) mod node;
pub(crate) mod python;
pub mod python_hook;
pub(crate) mod scan;
pub(crate) mod schema;
