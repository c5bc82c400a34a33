fn main() {
    println!("symmetric-encryption {}", symmetric_encryption::VERSION);
}
