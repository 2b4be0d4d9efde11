"""Running the network: the host loop that services I/O between passes (``computer``) and many programs as
batches (``batch``)."""
