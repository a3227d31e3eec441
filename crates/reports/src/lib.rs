//! Pure renderers: SVG charts, print views and files (XLSX, PDF) from values the service layer
//! assembles.

pub mod checklist;
pub mod svg;
pub mod table;
