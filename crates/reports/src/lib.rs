//! Pure renderers: SVG charts and print views from values the service layer assembles.

pub mod svg;
pub mod table;
