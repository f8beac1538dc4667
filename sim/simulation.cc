namespace pbft::sim {}
