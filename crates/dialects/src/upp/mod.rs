//! upp (specs/upp.txt): see issue 4.
