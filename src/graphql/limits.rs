//! Limits on what one GraphQL request may ask, beyond async-graphql's own depth and
//! complexity limits: a cap on the fields written in a document (aliases included), so that a
//! request cannot ask for the same expensive field a thousand times under a thousand names.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Variables};

/// Refuses documents that write more than `max_fields` fields or `max_aliases` aliases.
pub struct FieldLimit {
    pub max_fields: usize,
    pub max_aliases: usize,
}

impl ExtensionFactory for FieldLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FieldLimitExtension {
            max_fields: self.max_fields,
            max_aliases: self.max_aliases,
        })
    }
}

struct FieldLimitExtension {
    max_fields: usize,
    max_aliases: usize,
}

#[derive(Default)]
struct Count {
    fields: usize,
    aliases: usize,
}

fn count(set: &SelectionSet, into: &mut Count) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                into.fields += 1;
                if field.node.alias.is_some() {
                    into.aliases += 1;
                }
                count(&field.node.selection_set.node, into);
            }
            Selection::InlineFragment(fragment) => count(&fragment.node.selection_set.node, into),
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[async_trait::async_trait]
impl Extension for FieldLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let mut total = Count::default();
        for (_, operation) in document.operations.iter() {
            count(&operation.node.selection_set.node, &mut total);
        }
        for fragment in document.fragments.values() {
            count(&fragment.node.selection_set.node, &mut total);
        }
        if total.fields > self.max_fields || total.aliases > self.max_aliases {
            let mut error = ServerError::new(
                format!(
                    "the query has {} fields and {} aliases; the limits are {} and {}",
                    total.fields, total.aliases, self.max_fields, self.max_aliases
                ),
                None,
            );
            let mut extensions = async_graphql::ErrorExtensionValues::default();
            extensions.set("code", "BAD_USER_INPUT");
            error.extensions = Some(extensions);
            return Err(error);
        }
        Ok(document)
    }
}
