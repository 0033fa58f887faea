fn main() {
    std::process::exit(stepgate::cli::main());
}
