"""The engines that feed the judge: the Hypothesis, batched, exhaustive and stateful campaigns of one
(engine, function) job, the UB campaign, the C source's own UB scan, the fuzz targets, and the
example database they keep failures in."""
