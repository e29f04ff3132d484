fn main() {
    println!("{}", util::greet("splitlink"));
    println!("sum of squares to 10: {}", util::sum_of_squares(10));
}
