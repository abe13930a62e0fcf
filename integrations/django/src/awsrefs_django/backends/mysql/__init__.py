"""MySQL/MariaDB backend with credentials from ``OPTIONS["secret"]``, rotation-proof."""
