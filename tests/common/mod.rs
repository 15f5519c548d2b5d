pub mod webdriver;
pub mod shop;
pub mod sockets;
pub mod sim;
pub mod page;
pub mod text;
