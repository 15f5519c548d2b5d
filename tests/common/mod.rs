pub mod webdriver;
pub mod shop;
