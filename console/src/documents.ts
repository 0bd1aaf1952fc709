// Documents more than one screen uses: the payload errors every mutation selects, and a billing's status change.
import { graphql } from "./gql";

graphql(`
  fragment ConsoleErrors on UserError {
    code
    field
    message
  }
`);

export const SetBillingStatus = graphql(`
  mutation ConsoleSetBillingStatus($input: UpdateBillingStatusInput!) {
    updateBillingStatus(input: $input) {
      periodicBilling {
        id
        billingStatus
        version
        allowedTransitions
      }
      errors {
        ...ConsoleErrors
      }
    }
  }
`);
