"""The accounting export reads a batch's journal entries page by page in id order: an index on (batch_id, id)
serves each page from the index alone, with no sort of the batch's entries (docs/ACCOUNTING_EXPORT.md)."""

from tortoise import migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0020_deferrable_journal_line_entry')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='JournalEntry',
            index=Index(fields=['batch_id', 'id']),
        ),
    ]
