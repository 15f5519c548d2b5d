pub mod api;
pub mod checkout;
pub mod page;
pub mod shop;
pub mod sim;
pub mod sockets;
pub mod text;
pub mod webdriver;
