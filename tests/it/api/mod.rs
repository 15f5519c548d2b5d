//! The widget's API over real HTTP: buttons, files, members, Amazon's returns.

mod buttons;
mod files;
mod members;
mod returns;
