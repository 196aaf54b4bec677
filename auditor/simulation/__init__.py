"""The synthetic hospital: a month of explained work with labelled violations, written as an
interchange directory (`auditor simulate`), and the evaluation of the rules against the labels
(`auditor evaluate`)."""
