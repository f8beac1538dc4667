namespace pbft::wire {}
