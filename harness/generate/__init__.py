"""How cases are made: the choices a family asks for, the bounds, the layouts, one family per C
function, and the Hypothesis strategies built from them."""
