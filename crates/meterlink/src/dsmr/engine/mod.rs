//! engines (lead)
