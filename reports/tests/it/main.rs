//! Tests of the reports crate: snapshots of the text formats, the JSON Schema, charts, HTML.

mod charts;
mod fixture;
mod html;
mod schema;
mod snapshots;
mod tune;
