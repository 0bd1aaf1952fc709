"""The domain: every business rule of billrun, called alike by GraphQL resolvers and by workers."""
