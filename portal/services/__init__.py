"""Operations that read and write the portal database; rules decide, these do the I/O."""
