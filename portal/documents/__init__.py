"""Documents the hall prints and files it takes in bulk: receipts (受理单), certificates with a
signed QR (单位参保证明 / 单位权益单), and batch enrolment/stop files (批量增员 / 批量减员)."""
