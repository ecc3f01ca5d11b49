"""Tags and marketing matrices: rule files in conf/, checked, compiled to marketing.rules, evaluated in one
pass over the subscriber state (broadcast join on the equality dimensions, residual predicates after)."""
